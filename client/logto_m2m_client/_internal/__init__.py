"""Helpers of the client, shared with logto_m2m_django (same repository, released together): not a public API.

``redirects`` (which redirects a request may follow) and ``safejson`` (JSON with bounded nesting) serve remote
mode and the token parsing of the server package too; they import only the standard library.
"""
