CREATE TABLE `host_cas` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`patterns` text NOT NULL,
	`public_key` text NOT NULL,
	`fingerprint` text NOT NULL,
	`comment` text,
	`created_at` integer NOT NULL
);
