"""Custom claims: the hook that adds an application's own data to its access tokens.

``hook`` runs the configured callable safely; ``context`` builds what it receives (read with the
token endpoint's own client query); ``checks`` holds the system checks of its settings.
"""
