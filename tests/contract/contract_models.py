from pydantic import BaseModel


class Customer(BaseModel):
    email: str
    name: str
