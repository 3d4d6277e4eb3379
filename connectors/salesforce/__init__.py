"""Salesforce: the REST API emulator (``emulator.py``) and, later, the connector."""
