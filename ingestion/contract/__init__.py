"""What every stage agrees on: the MySQL type map (``typemap``) and the normalising rules that
the curate job applies and reconcile checks (``rules``)."""
