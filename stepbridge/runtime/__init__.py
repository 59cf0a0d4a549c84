"""The replay engine and the services the Lambda handlers run. No AWS imports here."""
