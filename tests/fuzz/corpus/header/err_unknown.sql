

-- pgqfs: priorty=1
