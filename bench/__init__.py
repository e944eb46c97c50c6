"""``make bench``: this package against django-oauth-toolkit, simplejwt and the bare DRF floors."""
