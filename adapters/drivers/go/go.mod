module mqspec/driver

go 1.19
