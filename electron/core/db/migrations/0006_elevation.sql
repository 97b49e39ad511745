ALTER TABLE `hosts` ADD `elevation` text;--> statement-breakpoint
ALTER TABLE `jobs` ADD `elevated` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `schedules` ADD `elevated` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `scripts` ADD `elevated` integer DEFAULT false NOT NULL;