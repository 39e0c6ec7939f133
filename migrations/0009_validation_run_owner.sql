-- checks room: the owner of a validation run. A run is live while a process with this pid AND
-- this start time (clock ticks since boot, /proc/<pid>/stat field 22) exists — a reused pid is
-- not the owner — and, inside the owning process, while its random token is registered (two
-- validations in one desktop app). The final UPDATE of a run matches the token, so a run that
-- recovery took as abandoned cannot be flipped back to finished. NULL in rows from before.
ALTER TABLE validation_runs ADD COLUMN owner_start INTEGER;
ALTER TABLE validation_runs ADD COLUMN owner_token TEXT;
