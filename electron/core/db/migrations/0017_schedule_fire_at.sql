ALTER TABLE `jobs` ADD `fire_at` integer;--> statement-breakpoint
CREATE UNIQUE INDEX `jobs_schedule_fire_unique` ON `jobs` (`schedule_id`,`fire_at`);