CREATE TABLE `schedule_events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`schedule_id` integer NOT NULL,
	`kind` text NOT NULL,
	`at` integer NOT NULL,
	`fire_at` integer,
	`job_id` integer,
	`reason` text NOT NULL,
	FOREIGN KEY (`schedule_id`) REFERENCES `schedules`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`job_id`) REFERENCES `jobs`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE INDEX `schedule_events_schedule_idx` ON `schedule_events` (`schedule_id`,`at`);--> statement-breakpoint
CREATE UNIQUE INDEX `schedule_events_late_unique` ON `schedule_events` (`kind`,`job_id`);--> statement-breakpoint
CREATE TABLE `webhook_deliveries` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`webhook_id` integer NOT NULL,
	`event_id` integer NOT NULL,
	`status` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` integer NOT NULL,
	`last_error` text,
	`delivered_at` integer,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`webhook_id`) REFERENCES `webhooks`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`event_id`) REFERENCES `schedule_events`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `webhook_deliveries_pending_idx` ON `webhook_deliveries` (`status`,`next_attempt_at`);--> statement-breakpoint
CREATE TABLE `webhooks` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`schedule_id` integer NOT NULL,
	`url_sealed` blob NOT NULL,
	`url_masked` text NOT NULL,
	`format` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`schedule_id`) REFERENCES `schedules`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `webhooks_schedule_idx` ON `webhooks` (`schedule_id`);--> statement-breakpoint
ALTER TABLE `schedules` ADD `grace_ms` integer DEFAULT 60000 NOT NULL;--> statement-breakpoint
ALTER TABLE `schedules` ADD `expected_ms` integer;--> statement-breakpoint
ALTER TABLE `schedules` ADD `failing_after` integer DEFAULT 3 NOT NULL;--> statement-breakpoint
ALTER TABLE `schedules` ADD `notify` integer DEFAULT true NOT NULL;--> statement-breakpoint
ALTER TABLE `schedules` ADD `health` text DEFAULT 'ok' NOT NULL;--> statement-breakpoint
ALTER TABLE `schedules` ADD `health_since` integer;--> statement-breakpoint
ALTER TABLE `schedules` ADD `health_reason` text;--> statement-breakpoint
ALTER TABLE `schedules` ADD `health_job_id` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
UPDATE `schedules` SET `health_job_id` = coalesce((select max(`id`) from `jobs` where `jobs`.`schedule_id` = `schedules`.`id`), 0);
