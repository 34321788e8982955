"""Alembic migrations of the bot's database (script_location ``storage:migrations``).

Run through ``storage.migrate`` / ``stelloloxon-bot db ...``; there is no alembic.ini.
"""
