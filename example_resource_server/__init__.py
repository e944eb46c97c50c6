"""A separate API service that validates the issuer's tokens from its JWKS (remote mode)."""
