"""Header filtering and body streaming between client and upstream; no policy here."""
