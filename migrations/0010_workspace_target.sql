-- workspace room: the target branch, fixed when the workspace is initialised (from the settings
-- in the working tree at that moment, or the default) and changed only by the audited
-- `oxide target set BRANCH --reason TEXT`. Every governance input (settings, policy, checks,
-- approvers) is read from the committed tip of this branch, never from the working tree, so a
-- local edit of `[workflow] target_branch` cannot select a laxer branch. NULL in rows from
-- before: the default branch ("main") until `oxide target set` records one.
ALTER TABLE workspaces ADD COLUMN target_branch TEXT;
