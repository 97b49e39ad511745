ALTER TABLE `hosts` ADD `transport` text DEFAULT 'auto' NOT NULL;--> statement-breakpoint
ALTER TABLE `hosts` ADD `openssh_reason` text;--> statement-breakpoint
ALTER TABLE `hosts` ADD `ssh_alias` text;--> statement-breakpoint
ALTER TABLE `hosts` ADD `ssh_config_file` text;--> statement-breakpoint
ALTER TABLE `runs` ADD `transport` text;