ALTER TABLE `log_chunks` ADD `file_off` integer;--> statement-breakpoint
ALTER TABLE `log_chunks` ADD `file_len` integer;