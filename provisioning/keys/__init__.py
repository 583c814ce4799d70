"""The keys pages: a person's keys with why each is suspended and where it is delivered."""
