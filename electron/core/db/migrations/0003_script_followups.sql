CREATE TABLE `script_followups` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`script_id` integer NOT NULL,
	`position` integer NOT NULL,
	`on` text NOT NULL,
	`followup_script_id` integer NOT NULL,
	`hosts` text,
	`tag` text,
	FOREIGN KEY (`script_id`) REFERENCES `scripts`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`followup_script_id`) REFERENCES `scripts`(`id`) ON UPDATE no action ON DELETE restrict
);
--> statement-breakpoint
CREATE UNIQUE INDEX `script_followups_position_unique` ON `script_followups` (`script_id`,`position`);--> statement-breakpoint
CREATE INDEX `script_followups_target_idx` ON `script_followups` (`followup_script_id`);--> statement-breakpoint
ALTER TABLE `jobs` ADD `trigger_run_id` integer REFERENCES runs(id) ON DELETE set null;--> statement-breakpoint
ALTER TABLE `jobs` ADD `trigger_on` text;--> statement-breakpoint
ALTER TABLE `jobs` ADD `trigger_followup_id` integer;--> statement-breakpoint
CREATE INDEX `jobs_parent_idx` ON `jobs` (`parent_job_id`);--> statement-breakpoint
CREATE UNIQUE INDEX `jobs_trigger_unique` ON `jobs` (`trigger_run_id`,`trigger_followup_id`);--> statement-breakpoint
ALTER TABLE `runs` ADD `followups_at` integer;--> statement-breakpoint
CREATE INDEX `runs_followups_pending_idx` ON `runs` (`finished_at`) WHERE "runs"."followups_at" is null and "runs"."status" in ('succeeded', 'failed', 'timed_out', 'cancelled', 'lost');--> statement-breakpoint
-- Runs that ended before follow-ups existed have nothing to fire.
UPDATE `runs` SET `followups_at` = coalesce(`finished_at`, 0) WHERE `status` in ('succeeded', 'failed', 'timed_out', 'cancelled', 'lost');
