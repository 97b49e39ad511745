ALTER TABLE "jobs" ADD COLUMN "fire_at" bigint;--> statement-breakpoint
CREATE UNIQUE INDEX "jobs_schedule_fire_unique" ON "jobs" USING btree ("schedule_id","fire_at");