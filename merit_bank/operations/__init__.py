"""Operating a deployment: backups of the database and restoring them."""
