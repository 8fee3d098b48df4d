"""What people see of the scores: reading cards and boards back from Redis, rankings, the
JSON documents and the text formatting of the CLI and the web pages."""
