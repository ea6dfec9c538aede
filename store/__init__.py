"""The store: SQLAlchemy models, sessions, the ledger, queries and the Excel files."""
