"""What a message means and what the bot answers. No transport code lives here."""
