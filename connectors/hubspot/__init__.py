"""HubSpot CRM: the emulator (and, later, the connector)."""
