   

-- c ; still comment
	
