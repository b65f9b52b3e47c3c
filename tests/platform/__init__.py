"""What the whole app stands on: errors, purity, schema, migrations, limits, observability."""
