ALTER TABLE "log_chunks" ADD COLUMN "file_off" bigint;--> statement-breakpoint
ALTER TABLE "log_chunks" ADD COLUMN "file_len" bigint;