package labels

test_missing_labels {
	deny["Deployment web is missing labels [\"app.kubernetes.io/owner\"]"] with input as {"kind": "Deployment", "metadata": {"name": "web", "labels": {"app.kubernetes.io/name": "web"}}}
}

test_owner_format {
	count(warn_owner_format) == 1 with input as {"metadata": {"labels": {"app.kubernetes.io/owner": "Bob"}}}
}
