"""A model of "the rest of the Django project": its rows point at users,
and doorman knows nothing of them (deleting such a user must be refused
with a 409 naming this table, never half done)."""

from django.contrib.auth.models import User
from django.db import models


class Order(models.Model):
    customer = models.ForeignKey(User, on_delete=models.PROTECT)
    total = models.DecimalField(max_digits=10, decimal_places=2)
