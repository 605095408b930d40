"""HTTP plumbing shared by every HTTP function: routing, models, errors, OpenAPI."""
