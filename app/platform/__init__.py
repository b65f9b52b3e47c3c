"""What every feature stands on: settings, the database, the error hierarchy, the HTTP
plumbing (problem details, request limits) and what an operator sees. Imports no feature."""
