ALTER TABLE `jobs` ADD `max_attempts` integer DEFAULT 3 NOT NULL;--> statement-breakpoint
ALTER TABLE `jobs` ADD `retry_script_failures` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `runs` ADD `not_before` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX `runs_status_not_before_idx` ON `runs` (`status`,`not_before`);