"""Pure. The commented example configuration (`treadwell config example`).

Kept identical to docs/config.example.toml (a test checks it), and shipped as a module so an
installed Treadwell can print it.
"""

EXAMPLE_CONFIG = """\
# Treadwell configuration, with every key at its default unless marked "example".
#
# Treadwell reads the first of: --config PATH, $TREADWELL_CONFIG,
# $CONFIGURATION_DIRECTORY/config.toml (systemd: /etc/treadwell/config.toml),
# ${XDG_CONFIG_HOME:-~/.config}/treadwell/config.toml, /etc/treadwell/config.toml.
# Without a file the defaults below apply. Unknown keys are errors.
#
# Any key can be overridden from the environment: TREADWELL_ plus the key, with "__"
# between levels, e.g. TREADWELL_MQTT__HOST=broker.lan or TREADWELL_LOG_LEVEL=DEBUG.
# Check a file with:  treadwell config check --config PATH

# DEBUG, INFO, WARNING, ERROR or CRITICAL.
log_level = "INFO"

# Where the SQLite state (run history, flags, check-ins, scheduled prompts) lives.
# Default: $STATE_DIRECTORY (systemd: /var/lib/treadwell), else
# ${XDG_STATE_HOME:-~/.local/state}/treadwell. Example:
# state_dir = "/var/lib/treadwell"

[mqtt]
# The broker.
host = "127.0.0.1"
port = 1883
# Credentials, if the broker wants them (example). The password is best kept out of
# this file: under systemd put it in /etc/treadwell/mqtt_password (LoadCredential=), or
# name a file here with password_file, or set TREADWELL_MQTT__PASSWORD.
# username = "treadwell"
# password = "..."
# password_file = "/etc/treadwell/mqtt_password"
# TLS to the broker; ca_file, certfile and keyfile must exist when given (example paths).
tls = false
# ca_file = "/etc/ssl/certs/ca-certificates.crt"
# certfile = "/etc/treadwell/client.crt"
# keyfile = "/etc/treadwell/client.key"
# Skip the broker certificate's host name check (only for testing).
tls_insecure = false
# A user name or password is only sent in clear text to a loopback broker unless this is true.
allow_insecure_credentials = false
# Every topic starts with this (no '+', '#', '$', control characters or leading/trailing
# '/'; outside the discovery prefix).
base_topic = "treadwell"
# Default: "treadwell-<hostname>". Example:
# client_id = "treadwell-gym"
# Home Assistant MQTT discovery.
discovery = true
discovery_prefix = "homeassistant"
# Seconds between keep-alive pings.
keepalive = 30
# At most this many state messages per second and device (readings are throttled).
max_state_rate_hz = 2.0

[ble]
# "bleak" for real Bluetooth hardware, "virtual" for the built-in simulated devices.
backend = "bleak"
# The Bluetooth adapter to use (example); default: the system's default adapter.
# adapter = "hci0"
# How long one scan for a device lasts, in seconds.
scan_timeout_s = 10.0
# Virtual backend only: the scripted run ("demo" or "steady")
# and how much faster than real time it plays.
virtual_profile = "demo"
speedup = 1.0

# One [[treadmills]] table per FTMS treadmill. A treadmill is found by its address,
# else by its advertised name, else the first FTMS treadmill found is used.
[[treadmills]]
# Shown in Home Assistant (at most 100 characters); its slug ("treadmill") names the MQTT
# topics. Slugs must be unique among all devices; a name in another script is
# transliterated ("Беговая" -> "begovaya").
name = "treadmill"
# Bluetooth address (example): address = "C8:4F:12:34:56:78"
# Advertised name (example):   match_name = "FS-A1B2C3"
# May Treadwell set the incline itself (only ever within max_incline_pct, and only
# for an ache flag)? Otherwise it only suggests. Each runner consents for themselves too.
automation_allowed = false
# May a dashboard (Home Assistant's "Target incline", {base}/<device>/incline/set) set the
# incline? Still within every limit, and never under a red flag.
dashboard_control = true
# The runner's own incline ceiling in percent: nothing above it is suggested or set.
# 0 means never incline: nothing is suggested or set, and Home Assistant gets no control.
max_incline_pct = 3.0

# Heart-rate straps, found like treadmills (none by default). Example:
# [[straps]]
# name = "chest strap"
# match_name = "Polar H10"

# Running footpods (Running Speed and Cadence), the same way (none by default). Example:
# [[footpods]]
# name = "footpod"
# address = "D1:22:33:44:55:66"

# The household's runners (none by default: then one runner, "default", has every run and
# the treadmills' settings apply). Flags, check-ins, history and prompts are each runner's.
# Who runs: the runner whose strap is connected when a run starts, else the runner chosen
# for the treadmill (MQTT {base}/<device>/runner/set, Home Assistant), else the default
# runner (default = true, else the first). Example:
# [[runners]]
# name = "Alice"
# max_incline_pct = 3.0         # her ceiling on any treadmill
# automation_allowed = false    # her consent to Treadwell setting the incline
# strap = "Polar H10 A1B2C3D4"  # an address, a [[straps]] name or an advertised name
# max_hr_bpm = 185
# default = false

[rules]
# The belt counts as moving at or above this speed (km/h) ...
run_start_speed_kmh = 2.0
# ... for this many seconds before a run starts.
run_start_s = 5.0
# A run ends after the belt has been still or silent this long (s; at least 1).
stop_timeout_s = 120.0
# A pause reported by the treadmill itself is kept this long (s).
pause_tolerance_s = 600.0
# The back-friendly incline window and the incline suggested inside it (%).
incline_window_min_pct = 2.0
incline_window_max_pct = 3.0
incline_target_pct = 2.5
# Incline help starts this long into a run (s) ...
incline_underway_s = 60.0
# ... at most once per this many seconds ...
incline_interval_s = 300.0
# ... and an incline Treadwell set gets this long to be reached (s).
incline_settle_s = 30.0
# With an ache flag, a form cue after this distance (m) ...
form_cue_distance_m = 3000.0
# ... or when the heart rate drifts up this much at a steady pace (bpm); 0 does not
# watch heart rate.
hr_drift_bpm = 10
# No heart-rate baseline before this point in a run (s); after the belt starts, a
# speed change larger than steady_speed_tolerance_kmh, an incline change or a pause,
# heart rate gets hr_settle_s to settle before a new baseline is taken.
hr_baseline_after_s = 600.0
hr_settle_s = 180.0
steady_speed_tolerance_kmh = 0.5
# After a run: a hydration reminder and a "how is your back?" check-in (s).
hydration_reminder_after_s = 3600.0
checkin_after_s = 7200.0
# This many painful runs among the last escalate_window_runs runs bring a prompt to
# see a physical therapist.
escalate_painful_runs = 3
escalate_window_runs = 5
# Check-in pain (0-10) from which sharp pain down the leg means "stop running until
# seen" rather than "get it checked soon".
severe_pain = 7
# A warm-up offered when the treadmill connects or wakes covers a run starting within
# this time (s).
warmup_window_s = 1800.0
# Overstriding, judged at or above stride_min_speed_kmh: fewer steps a minute than
# overstride_cadence_spm with steps at least overstride_step_m long (m), for
# overstride_after_s without a break, brings the stride cue (once a run).
stride_min_speed_kmh = 7.0
overstride_cadence_spm = 150.0
overstride_step_m = 1.0
overstride_after_s = 60.0
# The note on shoes after a run: overstriding for at least this share of the running
# time with stride data, over at least shoe_note_min_s (s) of such data.
shoe_note_fraction = 0.5
shoe_note_min_s = 300.0
# A scheduled prompt missed while Treadwell was down still comes if at most this
# late (s); later ones are dropped and logged.
prompt_grace_s = 1800

[flags]
# The back-pain flag to start with when none is stored yet: "none", "ache"
# (stiffness, ache), "check" (sharp, shooting or night pain: get it checked soon) or
# "red" (sharp, severe pain down the leg: stop running until seen).
back_pain = "none"
# How many days a flag set from here lasts (example); default: until cleared.
# days = 7

[storage]
# How long the state database keeps things, in days (0 keeps them for ever).
# Per-second samples of each run: a year of daily one-hour runs is about 50 MB.
samples_days = 365
# Prompts the broker acknowledged (pending ones are always kept).
outbox_days = 30
# Run summaries and check-ins: a few hundred bytes a run.
history_days = 0
# Samples are written in batches this many seconds apart: what a crash can lose.
commit_every_s = 2.0

[export]
# After each run, write its file(s) under DIRECTORY/<runner>/ (example); default: no
# automatic export (`treadwell export` still works).
# directory = "/var/lib/treadwell/exports"
# Any of "fit", "tcx", "csv".
formats = ["fit"]
# A command run on each new file, with the file's path as its last argument (example),
# e.g. to copy it to a synced folder. A failure is logged and retried, never dropped.
# command = ["rclone", "copy"]
command = []
# Seconds before a failed command is tried again.
retry_s = 60.0
# The device a FIT file says it comes from (FIT manufacturer and product ids). Some
# platforms compute training effect and similar figures only for files from a device
# they know; 255 is "development". See docs/export.md.
fit_manufacturer = 255
fit_product = 0
"""
