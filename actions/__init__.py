"""Custom Rasa actions: thin adapters that call the Minsheng API (logic lives in knowledge/ and api/)."""
