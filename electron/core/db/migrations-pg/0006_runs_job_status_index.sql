DROP INDEX "runs_job_idx";--> statement-breakpoint
CREATE INDEX "runs_job_idx" ON "runs" USING btree ("job_id","status");