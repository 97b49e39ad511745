ALTER TABLE `runs` ADD `priority_rank` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX `runs_claim_idx` ON `runs` (`status`,`priority_rank`,`not_before`,`id`);--> statement-breakpoint
UPDATE `runs` SET `priority_rank` = -(SELECT `priority` FROM `jobs` WHERE `jobs`.`id` = `runs`.`job_id`) WHERE `status` = 'queued';