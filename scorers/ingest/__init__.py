"""The ingest gateway's decisions, pure: a request body or a CRM payload in, events and
rejections out; signatures checked from bytes and a clock. ``streams/ingest`` does the I/O."""
