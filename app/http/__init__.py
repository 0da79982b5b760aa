"""HTTP plumbing shared by every route: body limits."""
