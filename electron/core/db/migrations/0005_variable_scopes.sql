ALTER TABLE `jobs` ADD `var_scope` text DEFAULT 'host' NOT NULL;--> statement-breakpoint
ALTER TABLE `jobs` ADD `secret_names` text;--> statement-breakpoint
ALTER TABLE `schedules` ADD `var_scope` text DEFAULT 'host' NOT NULL;--> statement-breakpoint
ALTER TABLE `schedules` ADD `secret_names` text;