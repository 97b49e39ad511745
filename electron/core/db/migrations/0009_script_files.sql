ALTER TABLE `jobs` ADD `files` text;--> statement-breakpoint
ALTER TABLE `scripts` ADD `files` text;