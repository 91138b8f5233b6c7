"""Models of this app live in each tenant's schema."""
