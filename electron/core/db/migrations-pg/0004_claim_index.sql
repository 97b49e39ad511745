ALTER TABLE "runs" ADD COLUMN "priority_rank" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX "runs_claim_idx" ON "runs" USING btree ("status","priority_rank","not_before","id");--> statement-breakpoint
UPDATE "runs" SET "priority_rank" = -(SELECT "priority" FROM "jobs" WHERE "jobs"."id" = "runs"."job_id") WHERE "status" = 'queued';