-- audit: the desktop Timeline's device chip (issue 14): one other device's imported chain,
-- paged and filtered like this device's own. A page walks one device's events in seq order,
-- so each filter needs an index whose entries are in seq order for one device and one value.
-- audit_device_events is WITHOUT ROWID with the key (device, seq): the key alone serves a
-- device with no filter (and a time range, found by binary search over seq); these serve a
-- kind, an actor, an actor + kind and a subject. See audit::devices::device_page.
CREATE INDEX audit_device_events_by_kind ON audit_device_events(device, kind, seq);
CREATE INDEX audit_device_events_by_actor ON audit_device_events(device, actor, seq);
CREATE INDEX audit_device_events_by_actor_kind ON audit_device_events(device, actor, kind, seq);
CREATE INDEX audit_device_events_by_subject ON audit_device_events(device, subject, seq);
