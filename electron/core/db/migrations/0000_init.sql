CREATE TABLE `audit_log` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`ts` integer NOT NULL,
	`actor` text NOT NULL,
	`action` text NOT NULL,
	`target` text,
	`detail` text
);
--> statement-breakpoint
CREATE INDEX `audit_log_ts_idx` ON `audit_log` (`ts`);--> statement-breakpoint
CREATE TABLE `credentials` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`host_id` integer NOT NULL,
	`kind` text NOT NULL,
	`sealed` blob NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`host_id`) REFERENCES `hosts`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `credentials_host_kind_unique` ON `credentials` (`host_id`,`kind`);--> statement-breakpoint
CREATE TABLE `diagnostics` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`host_id` integer NOT NULL,
	`status` text NOT NULL,
	`report` text NOT NULL,
	`duration_ms` integer NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`host_id`) REFERENCES `hosts`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `diagnostics_host_idx` ON `diagnostics` (`host_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `host_keys` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`host_id` integer NOT NULL,
	`algorithm` text NOT NULL,
	`fingerprint` text NOT NULL,
	`public_key` text NOT NULL,
	`source` text NOT NULL,
	`trusted_at` integer NOT NULL,
	FOREIGN KEY (`host_id`) REFERENCES `hosts`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `host_keys_host_alg_unique` ON `host_keys` (`host_id`,`algorithm`);--> statement-breakpoint
CREATE TABLE `host_tags` (
	`host_id` integer NOT NULL,
	`tag` text NOT NULL,
	PRIMARY KEY(`host_id`, `tag`),
	FOREIGN KEY (`host_id`) REFERENCES `hosts`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `host_tags_tag_idx` ON `host_tags` (`tag`);--> statement-breakpoint
CREATE TABLE `hosts` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`address` text NOT NULL,
	`port` integer DEFAULT 22 NOT NULL,
	`user` text,
	`identity_file` text,
	`jump_host_id` integer,
	`group_name` text,
	`notes` text,
	`os` text,
	`arch` text,
	`runner_target` text,
	`last_seen_at` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`jump_host_id`) REFERENCES `hosts`(`id`) ON UPDATE no action ON DELETE restrict
);
--> statement-breakpoint
CREATE UNIQUE INDEX `hosts_name_unique` ON `hosts` (`name`);--> statement-breakpoint
CREATE TABLE `jobs` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`kind` text NOT NULL,
	`schedule_id` integer,
	`parent_job_id` integer,
	`script_id` integer,
	`interpreter` text NOT NULL,
	`script_body` text NOT NULL,
	`target` text NOT NULL,
	`mode` text NOT NULL,
	`timeout_ms` integer,
	`concurrency` integer,
	`env` text,
	`input` text,
	`priority` integer DEFAULT 0 NOT NULL,
	`status` text NOT NULL,
	`requested_by` text NOT NULL,
	`created_at` integer NOT NULL,
	`started_at` integer,
	`finished_at` integer,
	FOREIGN KEY (`schedule_id`) REFERENCES `schedules`(`id`) ON UPDATE no action ON DELETE set null,
	FOREIGN KEY (`parent_job_id`) REFERENCES `jobs`(`id`) ON UPDATE no action ON DELETE set null,
	FOREIGN KEY (`script_id`) REFERENCES `scripts`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE INDEX `jobs_status_idx` ON `jobs` (`status`);--> statement-breakpoint
CREATE INDEX `jobs_created_idx` ON `jobs` (`created_at`);--> statement-breakpoint
CREATE INDEX `jobs_schedule_idx` ON `jobs` (`schedule_id`);--> statement-breakpoint
CREATE TABLE `log_chunks` (
	`run_id` integer NOT NULL,
	`seq` integer NOT NULL,
	`stream` text NOT NULL,
	`ts` integer NOT NULL,
	`bytes` blob NOT NULL,
	PRIMARY KEY(`run_id`, `seq`),
	FOREIGN KEY (`run_id`) REFERENCES `runs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `runner_artifacts` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`version` text NOT NULL,
	`target` text NOT NULL,
	`sha256` text NOT NULL,
	`size` integer NOT NULL,
	`signer_kind` text NOT NULL,
	`signer_fingerprint` text NOT NULL,
	`status` text NOT NULL,
	`error` text,
	`verified_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `runner_artifacts_version_target_unique` ON `runner_artifacts` (`version`,`target`);--> statement-breakpoint
CREATE TABLE `runner_deployments` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`host_id` integer NOT NULL,
	`version` text NOT NULL,
	`target` text NOT NULL,
	`path` text,
	`sha256` text NOT NULL,
	`status` text NOT NULL,
	`error` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`verified_at` integer,
	FOREIGN KEY (`host_id`) REFERENCES `hosts`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `runner_deployments_host_idx` ON `runner_deployments` (`host_id`,`version`);--> statement-breakpoint
CREATE TABLE `runs` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`job_id` integer NOT NULL,
	`host_id` integer,
	`host_name` text NOT NULL,
	`status` text NOT NULL,
	`attempt` integer DEFAULT 1 NOT NULL,
	`exit_code` integer,
	`signal` text,
	`mode` text,
	`mode_reason` text,
	`runner_version` text,
	`helper_transport` text,
	`error_code` text,
	`error_message` text,
	`lease_owner` text,
	`lease_expires_at` integer,
	`heartbeat_at` integer,
	`detached` integer DEFAULT false NOT NULL,
	`last_seq` integer DEFAULT 0 NOT NULL,
	`output` text,
	`condition` integer,
	`t_connect_ms` integer,
	`t_deploy_ms` integer,
	`t_start_ms` integer,
	`t_exec_ms` integer,
	`t_total_ms` integer,
	`queued_at` integer NOT NULL,
	`started_at` integer,
	`finished_at` integer,
	FOREIGN KEY (`job_id`) REFERENCES `jobs`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`host_id`) REFERENCES `hosts`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE INDEX `runs_job_idx` ON `runs` (`job_id`);--> statement-breakpoint
CREATE INDEX `runs_status_lease_idx` ON `runs` (`status`,`lease_expires_at`);--> statement-breakpoint
CREATE INDEX `runs_host_finished_idx` ON `runs` (`host_id`,`finished_at`);--> statement-breakpoint
CREATE TABLE `schedules` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`cron` text NOT NULL,
	`tz` text DEFAULT 'UTC' NOT NULL,
	`script_id` integer NOT NULL,
	`target` text NOT NULL,
	`mode` text DEFAULT 'auto' NOT NULL,
	`timeout_ms` integer,
	`concurrency` integer,
	`overlap_policy` text DEFAULT 'skip' NOT NULL,
	`catchup_policy` text DEFAULT 'skip' NOT NULL,
	`paused` integer DEFAULT false NOT NULL,
	`last_fire_at` integer,
	`next_fire_at` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`script_id`) REFERENCES `scripts`(`id`) ON UPDATE no action ON DELETE restrict
);
--> statement-breakpoint
CREATE UNIQUE INDEX `schedules_name_unique` ON `schedules` (`name`);--> statement-breakpoint
CREATE INDEX `schedules_next_idx` ON `schedules` (`paused`,`next_fire_at`);--> statement-breakpoint
CREATE TABLE `scripts` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`interpreter` text NOT NULL,
	`body` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `scripts_name_unique` ON `scripts` (`name`);--> statement-breakpoint
CREATE TABLE `settings` (
	`key` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `variables` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`host_id` integer,
	`key` text NOT NULL,
	`value` text,
	`secret` integer DEFAULT false NOT NULL,
	`sealed` blob,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`host_id`) REFERENCES `hosts`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `variables_global_key_unique` ON `variables` (`key`) WHERE "variables"."host_id" is null;--> statement-breakpoint
CREATE UNIQUE INDEX `variables_host_key_unique` ON `variables` (`host_id`,`key`) WHERE "variables"."host_id" is not null;