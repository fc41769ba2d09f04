"""HTTP plumbing every blueprint shares: headers, errors, URLs, signed tokens, languages,
the embed script."""
