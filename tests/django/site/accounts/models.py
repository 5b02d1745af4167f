"""The seed project's accounts app as its models read (field names, types
and sizes as the seed's API reference lists them), so doorman can be
tested against the tables Django makes for it."""

from django.contrib.auth.models import Group, User
from django.db import models


class Provinces(models.Model):
    name = models.CharField(max_length=100, unique=True)
    code = models.CharField(max_length=10, null=True, blank=True)

    def __str__(self):
        return self.name


class UserProfile(models.Model):
    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="profile")
    phone = models.CharField(max_length=20, blank=True)
    address = models.CharField(max_length=255, blank=True)
    birth_date = models.DateField(null=True, blank=True)
    profile_picture = models.ImageField(upload_to="profile_pics/", null=True, blank=True)
    bio = models.TextField(blank=True)
    roles = models.ManyToManyField(Group, blank=True, related_name="profiles")
    province = models.ForeignKey(Provinces, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
