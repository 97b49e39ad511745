DROP INDEX `runs_job_idx`;--> statement-breakpoint
CREATE INDEX `runs_job_idx` ON `runs` (`job_id`,`status`);