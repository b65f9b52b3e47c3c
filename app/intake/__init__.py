"""Receiving leads from marketing tools: how each tool signs and shapes its deliveries.

Pure functions over bytes and headers (no database, no clock they are not given), so every
scheme is tested against its own reference sender; `app.services.intake` does the rest.
"""
