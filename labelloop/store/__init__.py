"""The only module family that issues SQL: tables, migrations and the queries the rooms need."""
