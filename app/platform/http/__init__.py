"""HTTP plumbing every route shares: problem details for every error, the request limits
layer, and what routes read from a request besides their parameters."""
