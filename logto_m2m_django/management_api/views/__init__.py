"""The Management API views, one module per Logto entity."""
